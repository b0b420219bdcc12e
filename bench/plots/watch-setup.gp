# Figure: watcher set-up time vs tree size (bench/results/watch-sweep.json), log-log.
# sweep.tsv: dirs files floor baton inotifywait fswatch chokidar baton_own dirs-label files-label
load 'bench/plots/common.gp'
sw = datadir.'/sweep.tsv'
set title "Recursive watcher set-up time vs tree size (".sw_fpd." files per directory)" font ",15"
set label 1 sw_src1 at screen 0.01,0.05 left font ",9" tc rgb "#333333"
set label 2 sw_src2.drawn at screen 0.01,0.022 left font ",9" tc rgb "#333333"
set bmargin 9
set lmargin 10
set logscale xy
set xrange [sw_xmin:sw_xmax]
set xlabel "tree size" offset 0,-0.8
set ylabel "spawn → ready (ms)"
set format y "%g"
set grid xtics ytics lc rgb "#e0e0e0" lt 1
set key top left opaque box lc rgb "#cccccc"
cmd = "plot sw u 1:3:xtic(sprintf('%s\n%s', strcol(9), strcol(10))) " \
    . "w lp lw 2 dt 2 pt 1 ps 1.2 lc rgb '#888888' t 'syscall floor (floor.c)'"
if (sw_has_baton) {
	cmd = cmd.", sw u 1:4 w lp lw 2.5 pt 7 ps 1.2 lc rgb baton_c t sw_t_baton"
	cmd = cmd.", sw u 1:8 w lp lw 1.5 dt 3 pt 6 ps 1 lc rgb baton_c " \
	    . "t 'baton watch, its own figure (after exec and config)'"
}
if (sw_has_inotifywait) {
	cmd = cmd.", sw u 1:5 w lp lw 2 pt 5 ps 1.1 lc rgb '#31a354' t sw_t_inotifywait"
}
if (sw_has_fswatch) {
	cmd = cmd.", sw u 1:6 w lp lw 2 pt 9 ps 1.3 lc rgb '#756bb1' t sw_t_fswatch"
}
if (sw_has_chokidar) {
	cmd = cmd.", sw u 1:7 w lp lw 2 pt 13 ps 1.3 lc rgb peer_c t sw_t_chokidar"
}
eval cmd
