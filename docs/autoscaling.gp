# Plots docs/autoscaling.csv (written by the e2e test TestBacklogAutoscaling)
# into docs/autoscaling.png: the worker pool's replicas and its backlog over
# time. Run from the repository root: gnuplot docs/autoscaling.gp (or make docs).
set datafile separator ","
set terminal pngcairo size 1000,520 font "sans,10"
set output "docs/autoscaling.png"
set title "Backlog autoscaling: slow workers under a steady ventilator, then none"
set key top right
set xlabel "time since the ventilator started (s)"
set ylabel "replicas"
set y2label "backlog (KiB)"
set ytics nomirror
set y2tics
set y2range [0:*]
set grid
stats "docs/autoscaling.csv" skip 1 using 2 nooutput
top = STATS_max + 1
set yrange [0:top]
# Column 5 is 1 while the ventilator sends: shaded.
plot "docs/autoscaling.csv" skip 1 using 1:($5*top) with filledcurves x1 fs transparent solid 0.08 noborder lc rgb "#888888" title "ventilator sending", \
     "" skip 1 using 1:($4/1024) axes x1y2 with lines lw 1.5 lc rgb "#c0504d" title "backlog (KiB, as the operator measured it)", \
     "" skip 1 using 1:2 with steps lw 2.5 lc rgb "#1f77b4" title "replicas (spec)", \
     "" skip 1 using 1:3 with steps lw 1.5 dt 2 lc rgb "#2ca02c" title "replicas (ready)"
