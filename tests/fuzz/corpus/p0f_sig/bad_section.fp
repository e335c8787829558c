classes = win
[tcp:foo]
