classes = a,b
[mtu]
label = L
sig = 1492
[tcp:response]
label = g:a:N:f:with:colons
sig = 4:255+0:40:*:%8192,14:eol+0:0+,ecn:+
sig = 6:64-:0:65535:mtu*1000,*:?254,sack:flow,ts1-:*
[http:response]
label = s:!:S:
sys = @a,X
sig = 0:?Server=[a:b],Date:Via,Keep-Alive:srv
