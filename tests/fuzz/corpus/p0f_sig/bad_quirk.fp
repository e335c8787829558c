classes = win
[tcp:request]
label = s:win:W:1
sig = *:64:0:*:8192,0:mss:df,zz:0
