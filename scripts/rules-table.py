#!/usr/bin/env python3
# Rewrites the VALIDATION RULES table of man/tt-info.1 from Sources/Metainfo/MetainfoRules.swift
# (kind, severity, summary, libtorrent): run from the repository root after changing a rule.
import re
s=open('Sources/Metainfo/MetainfoRules.swift').read()
cases=re.findall(r'case (\w+) = "(\w+)"', s)
summ=dict(re.findall(r'case \.(\w+): return "((?:[^"\\]|\\.)*)"', s[s.index('var summary'):s.index('var libtorrent')]))
lt={}
for m in re.finditer(r'case ((?:\.\w+(?:, )?)+): return "((?:[^"\\]|\\.)*)"', s[s.index('var libtorrent'):]):
    for c in re.findall(r'\.(\w+)', m.group(1)): lt[c]=m.group(2)
sev={}
for c in re.findall(r'\.(\w+)', re.search(r'case ([^:]+): return \.ambiguous', s).group(1)): sev[c]='ambiguous'
def roff(t):
    return t.replace('\\\\','\\e').replace('\\"','"').replace('-','\\-').replace("'", "\\(aq").replace('−','\\(mi').replace('×','\\(mu')
rows=["%s\t%s\tT{\n%s\nT}\tT{\n%s\nT}" % (kind, sev.get(name,'invalid'), roff(summ[name]), roff(lt[name])) for name,kind in cases]
m=open('man/tt-info.1').read()
start=m.index('kind\tseverity\trule\tlibtorrent\n')+len('kind\tseverity\trule\tlibtorrent\n')
end=m.index('.TE\n')
m=m[:start]+"\n".join(rows)+"\n"+m[end:]
open('man/tt-info.1','w').write(m)
