# Figure: failed requests per edit (dev loop) and per reload (reloads under load), per tool.
# bench/results/devloop.json and bench/results/reload.json; a panel without results is left out.
load 'bench/plots/common.gp'
set style fill solid 0.9 border lc rgb "#555555"
set boxwidth 0.62
npanels = have_devloop + have_reload
set multiplot layout 1,npanels title "Failed requests while the app is replaced" font ",15" \
    margins 0.07,0.985,0.29,0.87 spacing 0.08,0
# footer: two lines per source, "drawn by" on the last one
y = 0.022
tail = drawn
if (have_reload) {
	set label 3 rl_src2.tail at screen 0.01,y left font ",9" tc rgb "#333333"
	set label 4 rl_src1 at screen 0.01,y+0.026 left font ",9" tc rgb "#333333"
	y = y + 0.056
	tail = ""
}
if (have_devloop) {
	set label 1 dl_src2.tail at screen 0.01,y left font ",9" tc rgb "#333333"
	set label 2 dl_src1 at screen 0.01,y+0.026 left font ",9" tc rgb "#333333"
	y = y + 0.056
}
keyy = y + 0.03
if (have_devloop) {
	dl = datadir.'/devloop.tsv'
	de = datadir.'/devloop_edits.tsv'
	set title "dev loop: failed requests per edit (a new connection every 5 ms)\n" \
	    . "bar: mean over edits, dots: edits" font ",12"
	set xrange [-0.6:dl_n-0.4]
	set yrange [0:*]
	unset key
	plot dl u 1:9:12:xtic(sprintf("%s\n%s\nmax %d", strcol(2), count($9), $10)) \
	        w boxes lc rgb variable, \
	     de u 1:4 w points pt 7 ps 0.45 lc rgb "#222222"
	unset label 1
	unset label 2
	unset label 3
	unset label 4
}
if (have_reload) {
	rl = datadir.'/reload.tsv'
	rr = datadir.'/reload_rounds.tsv'
	set title "reloads under wrk load: failed requests per reload (log y)\n" \
	    . "bar: median of rounds, dots: rounds; below: the main kind" font ",12"
	set xrange [-0.6:rl_n-0.4]
	set logscale y
	set yrange [rl_ymin:rl_ymax]
	set format y "%g"
	unset key
	# boxes start at the bottom of the log axis; a mode without failures gets no bar
	plot rl u 1:($7 > 0 ? $7 : NaN):8 w boxes lc rgb variable, \
	     rl u 1:(rl_ymin):xtic(sprintf("%s\n%s\n%s", strcol(2), count($7), strcol(9))) \
	        w points ps 0, \
	     rr u 1:($2 > 0 ? $2 : NaN) w points pt 7 ps 0.6 lc rgb "#222222"
}
unset multiplot
