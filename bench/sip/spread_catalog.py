# bench/run.sh sip: a catalog of N cameras spread over 高邑县 (114.50-114.70 E, 37.55-37.68 N, uniform, seeded), sent by
# one NVR over UDP, 20 items per Response MESSAGE, each sent when the previous one was answered 200 OK (after its items
# were stored). The NVR registers with digest through the auto-enrolling account "bench" (password bench-pass-1) and
# answers whatever the gateway asks it 200 OK. Prints "N cameras spread over the county: T s, R channels/s".
#   python3 spread_catalog.py N GATEWAY_SIP_PORT [NVR_ID] [FIRST_SERIAL]
import socket, hashlib, re, sys, time, random
OFF = int(sys.argv[4]) if len(sys.argv) > 4 else 0; N = int(sys.argv[1]); GW = ('127.0.0.1', int(sys.argv[2])); PER = 20
dev = sys.argv[3] if len(sys.argv) > 3 else '13012700001180000009'; dom = '1301270000'
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.settimeout(30)
cseq = [0]
def req(method, body=b'', extra=''):
    cseq[0] += 1; br = 'z9hG4bK%d%d' % (random.randrange(1 << 30), cseq[0])
    h = (f"{method} sip:13012700002000000001@{dom} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};rport;branch={br}\r\n"
         f"From: <sip:{dev}@{dom}>;tag=t{cseq[0]}\r\nTo: <sip:{dev if method=='REGISTER' else '13012700002000000001'}@{dom}>\r\n"
         f"Call-ID: c{cseq[0] if method!='REGISTER' else 0}\r\nCSeq: {cseq[0]} {method}\r\nContact: <sip:{dev}@127.0.0.1:{port}>\r\n"
         f"Max-Forwards: 70\r\n{extra}Content-Length: {len(body)}\r\n\r\n")
    s.sendto(h.encode() + body, GW); return br
def wait_response(br):
    while True:
        d, _ = s.recvfrom(65535); t = d.decode('latin1')
        if t.startswith('SIP/2.0') and br in t and not t.startswith('SIP/2.0 1'): return t
        if not t.startswith('SIP/2.0'): pending.append(t)
pending = []
def answer(t):
    lines = t.split('\r\n'); keep = [l for l in lines if l.split(':')[0].lower() in ('via', 'from', 'to', 'call-id', 'cseq')]
    s.sendto(('SIP/2.0 200 OK\r\n' + '\r\n'.join(keep) + '\r\nContent-Length: 0\r\n\r\n').encode(), GW)
br = req('REGISTER', extra='Expires: 3600\r\n'); r = wait_response(br)
nonce = re.search(r'nonce="([^"]+)"', r).group(1); realm = re.search(r'realm="([^"]+)"', r).group(1)
md5 = lambda x: hashlib.md5(x.encode()).hexdigest(); uri = f'sip:{dom}'
resp = md5(f"{md5('bench:' + realm + ':bench-pass-1')}:{nonce}:00000001:abc:auth:{md5('REGISTER:' + uri)}")
auth = f'Authorization: Digest username="bench", realm="{realm}", nonce="{nonce}", uri="{uri}", response="{resp}", qop=auth, nc=00000001, cnonce="abc", algorithm=MD5\r\n'
r = wait_response(req('REGISTER', extra='Expires: 3600\r\n' + auth)); assert r.startswith('SIP/2.0 200'), r[:80]
sn = None
while sn is None:
    t = pending.pop(0) if pending else s.recvfrom(65535)[0].decode('latin1')
    if t.startswith('SIP/2.0'): continue
    answer(t)
    m = re.search(r'<CmdType>Catalog</CmdType>\s*<SN>(\d+)', t)
    if m: sn = m.group(1)
start = time.time(); random.seed(7)
for first in range(0, N, PER):
    items = ''.join(f"<Item><DeviceID>1301270000131{OFF+i+1:07d}</DeviceID><Name>C{i+1}</Name><Status>ON</Status><Longitude>{114.50 + random.random()*0.2:.5f}</Longitude><Latitude>{37.55 + random.random()*0.13:.5f}</Latitude><Info><PTZType>3</PTZType></Info></Item>" for i in range(first, min(N, first + PER)))
    body = f'<?xml version="1.0" encoding="UTF-8"?><Response><CmdType>Catalog</CmdType><SN>{sn}</SN><DeviceID>{dev}</DeviceID><SumNum>{N}</SumNum><DeviceList Num="{min(PER, N-first)}">{items}</DeviceList></Response>'.encode()
    r = wait_response(req('MESSAGE', body, 'Content-Type: Application/MANSCDP+xml\r\n'))
    while pending: answer(pending.pop(0))
    assert r.startswith('SIP/2.0 200'), r[:80]
el = time.time() - start
print(f'{N} cameras spread over the county: {el:.1f} s, {N/el:.0f} channels/s')
