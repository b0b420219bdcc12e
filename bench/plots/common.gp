# Shared settings for the benchmark plots. Callers set: datadir (the TSVs and vars.gp that
# bench/plots/plots.py wrote) and out (the PNG). Draw with bench/plots.sh.
load datadir.'/vars.gp'
set terminal pngcairo size 1280,720 font "DejaVu Sans,11" noenhanced background "#ffffff"
set output out
set datafile separator "\t"
set datafile missing "NaN"
set border 3 lc rgb "#444444"
set tics nomirror
set grid ytics lc rgb "#dddddd" lt 1
set key noopaque samplen 1.5
baton_c = "#1f77b4"
peer_c = "#e6550d"
# a count for an axis label: no decimals from 100 up
count(x) = x == 0 ? "0" : x >= 100 ? sprintf("%.0f", x) : sprintf("%.1f", x)
