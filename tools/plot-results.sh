#!/usr/bin/env bash
# Plots and tables for the README from the examples' CSV files (gnuplot, SVG output).
#   tools/plot-results.sh fashion   DIR   # DIR/fashion_<net>.csv -> DIR/fashion_<net>.svg + table
#   tools/plot-results.sh image_fit DIR   # DIR/image_fit_<net>.csv -> DIR/image_fit_loss.svg + table
# The table (markdown) goes to stdout: the mean over trials of the last epoch of each trial.
set -euo pipefail
what=${1:?fashion or image_fit}
dir=${2:?results folder}
command -v gnuplot > /dev/null || { echo "plot-results: gnuplot is missing (Debian: gnuplot-nox)" >&2; exit 1; }

# Last row of each trial (trials are separated by blank lines), averaged column by column.
last_rows_mean() {
  awk -F', *' '/^#/ {next} NF == 0 {if (last != "") {n++; split(last, v, /, */); for (i in v) s[i] += v[i]}; last = ""; next}
               {last = $0} END {if (last != "") {n++; split(last, v, /, */); for (i in v) s[i] += v[i]}
               printf "%d", n; for (i = 1; i <= length(s); i++) printf " %.6f", s[i] / n; printf "\n"}' "$1"
}

case $what in
  fashion)
    echo "| network | trials | epochs | train loss | test loss | train accuracy | test accuracy |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for net in linear single-layer conv-net conv-blur-net; do
      csv=$dir/fashion_$net.csv
      [ -f "$csv" ] || continue
      read -r n epoch tl vl ta va <<< "$(last_rows_mean "$csv")"
      printf "| %s | %d | %.0f | %.4f | %.4f | %.2f%% | %.2f%% |\n" "$net" "$n" "$epoch" "$tl" "$vl" \
        "$(awk "BEGIN {print $ta * 100}")" "$(awk "BEGIN {print $va * 100}")"
      gnuplot <<GP
set terminal svg size 640,400 dynamic font "sans,11"
set output "$dir/fashion_$net.svg"
set title "fashion_mnist $net (each trial a line)"
set xlabel "epoch"; set ylabel "loss"; set y2label "accuracy"
set ytics nomirror; set y2tics; set y2range [0.8:1]; set key bottom left
set datafile separator ","
plot "$csv" using 1:2 with lines title "train loss", "$csv" using 1:3 with lines title "test loss", \
     "$csv" using 1:4 axes x1y2 with lines title "train accuracy", "$csv" using 1:5 axes x1y2 with lines title "test accuracy"
GP
    done ;;
  image_fit)
    echo "| network | epochs | final loss (mean per-pixel squared error, RGB summed) |"
    echo "|---|---:|---:|"
    plots=()
    for net in relu relu-pe siren multi-hash; do
      csv=$dir/image_fit_$net.csv
      [ -f "$csv" ] || continue
      read -r n epoch loss <<< "$(last_rows_mean "$csv")"
      printf "| %s | %.0f | %.6f |\n" "$net" "$epoch" "$loss"
      plots+=("\"$csv\" using 1:2 with lines title \"$net\"")
    done
    joined=$(IFS=,; echo "${plots[*]}")
    gnuplot <<GP
set terminal svg size 640,400 dynamic font "sans,11"
set output "$dir/image_fit_loss.svg"
set title "image_fit: loss per epoch"
set xlabel "epoch"; set ylabel "mean per-pixel squared error (RGB summed)"; set logscale y
set datafile separator ","
plot $joined
GP
    ;;
  *) echo "plot-results: unknown '$what' (fashion or image_fit)" >&2; exit 1 ;;
esac
