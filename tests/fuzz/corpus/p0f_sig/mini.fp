; test database
classes = win,unix,other

[mtu]
label = Ethernet or modem
sig   = 1500
label = DSL
sig   = 1492

[tcp:request]
label = s:unix:Linux:3.11 and newer
sig   = *:64:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:mss*20,7:mss,sok,ts,nop,ws:df,id+:0
label = g:unix:Linux:2.2.x-3.x
sig   = *:64:0:*:*,*:mss,sok,ts,nop,ws:df,id+:0
label = s:win:Windows:7 or 8
sig   = *:128:0:*:8192,2:mss,nop,ws,nop,nop,sok:df,id+:0
label = s:unix:Mac OS X:10.x
sig   = *:64:0:*:65535,3:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+:0
label = s:unix:FreeBSD:9.x or newer
sig   = *:64:0:*:65535,6:mss,nop,ws,sok,ts:df,id+:0
label = s:!:NMap:SYN scan
sys   = @unix,@win
sig   = *:64-:0:1460:1024,0:mss::0

[tcp:response]
label = s:unix:Linux:3.x
sig   = *:64:0:*:mss*10,0:mss,sok,ts:df:0

[http:request]
ua_os = Linux,Windows,iOS=[iPhone],Mac OS X
label = s:!:curl:
sys   = Linux,@unix
sig   = *:User-Agent,Host,Accept=[*/*]:Accept-Encoding:curl/
label = g:!:some browser:
sys   = @win
sig   = 1:Host,User-Agent,?Referer,Accept::Mozilla/

[http:response]
label = s:!:nginx:1.x
sys   = @unix
sig   = *:Server,Date,Content-Type:Keep-Alive:nginx
