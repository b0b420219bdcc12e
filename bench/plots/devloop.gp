# Figure: dev-loop latency per tool (bench/results/devloop.json).
# Left: median edit -> new version, split into build, app start and the rest, p90 whisker, one
# dot per edit. Right: latency - build - app start per edit (what the supervisor adds).
load 'bench/plots/common.gp'
dl = datadir.'/devloop.tsv'
de = datadir.'/devloop_edits.tsv'
set style fill solid 0.9 border lc rgb "#555555"
set boxwidth 0.62
set xrange [-0.6:dl_n-0.4]
set multiplot layout 1,2 \
    title "Dev loop: edit of main.go → first answer from the new version (examples/gin-hello)" \
    font ",15" margins 0.07,0.985,0.25,0.87 spacing 0.08,0
set label 1 dl_src1 at screen 0.01,0.05 left font ",9" tc rgb "#333333"
set label 2 dl_src2.drawn at screen 0.01,0.022 left font ",9" tc rgb "#333333"

set title "edit → new version (ms)\nbar: median, whisker: p90, dots: edits" font ",12"
set yrange [0:*]
set key at screen 0.07,0.125 left top horizontal maxcols 5 maxrows 1 reverse Left width 1 \
    font ",10"
plot dl u 1:($5+$6+$7) w boxes lc rgb "#9ecae1" t "rest", \
     '' u 1:($5+$6) w boxes lc rgb "#fdd0a2" t "app start", \
     '' u 1:5:xtic(sprintf("%s\n%.0f ms", strcol(2), $3)) \
        w boxes lc rgb "#bdbdbd" t "go build", \
     '' u 1:3:(0):($4-$3) w vectors head size screen 0.01,90 lc rgb "#000000" lw 1.5 \
        t "median → p90", \
     de u 1:2 w points pt 7 ps 0.45 lc rgb "#222222" t "edits"
unset label 1
unset label 2

set title "latency − build − app start (ms): what the supervisor adds\n" \
    . "bar: median, dots: edits" font ",12"
set yrange [0:*]
unset key
plot dl u 1:8:12:xtic(sprintf("%s\n%.0f ms", strcol(2), $8)) \
        w boxes lc rgb variable, \
     de u 1:3 w points pt 7 ps 0.45 lc rgb "#222222"
unset multiplot
