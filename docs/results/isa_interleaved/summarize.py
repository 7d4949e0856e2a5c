import json,glob,collections,statistics
d=collections.defaultdict(lambda: collections.defaultdict(list))
for f in sorted(glob.glob('docs/results/isa_interleaved/*.json')):
    prog,b,t,r=f.split('/')[-1][:-5].split('_')
    try: j=json.load(open(f))
    except Exception as e: print(f,e); continue
    for bm in j['benchmarks']:
        if bm.get('aggregate_name')!='median': continue
        u=bm['time_unit']; v=bm['real_time']*{'ms':1,'us':1e-3,'ns':1e-6}[u]
        d[(prog,bm['run_name'],t)][b].append(v)
print("| benchmark | threads | AVX-512 ms (3 rounds) | AVX2 ms (3 rounds) | AVX2 ÷ AVX-512 time, median |")
print("|---|---|---|---|---|")
for k in sorted(d):
    a=d[k]['lead']; b=d[k]['avx2']
    if len(a)<3 or len(b)<3: continue
    print(f"| `{k[0]}:{k[1]}` | {k[2][1:]} | {' / '.join('%.3g'%x for x in a)} | {' / '.join('%.3g'%x for x in b)} | {statistics.median(b)/statistics.median(a):.2f} |")
