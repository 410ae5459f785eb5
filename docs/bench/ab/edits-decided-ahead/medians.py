# The medians quoted in README.md here, from the result files beside it (run from the repository root).
import json,glob,statistics,re,sys
rows={}
for f in sorted(glob.glob('docs/bench/ab/edits-decided-ahead/*-N*-r*.json')):
    m=re.search(r'/(\w+)-N(\d+)-r(\d+)\.json',f); v,n,r=m.group(1),int(m.group(2)),int(m.group(3))
    d=json.load(open(f))
    ph=d['beatbook']
    def g(p,k): return ph[p][k]
    rows.setdefault((n,v),[]).append((g('incr_push','seconds')*1e3, g('incr_pull','seconds')*1e3, g('incr_push','server_answer_s')*1e3, g('push','records_per_s'), g('pull','records_per_s')))
for (n,v),xs in sorted(rows.items()):
    med=[statistics.median(c) for c in zip(*xs)]
    print(f"N={n} {v:6} runs={len(xs)} incr_push {med[0]:.1f} ms (server {med[2]:.1f}) incr_pull {med[1]:.1f} ms incr total {med[0]+med[1]:.1f}  push {med[3]:.0f}/s pull {med[4]:.0f}/s   all incr_push: {[round(x[0],1) for x in xs]}")
