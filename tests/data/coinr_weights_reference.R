# Reference numbers for tests/test_weights_cn.py: COINr's optimised and signed-PCA weights on its ASEM example.
# Run: R CMD INSTALL -l <lib> <COINr source at commit b9682034635df03279896b6cb025cd3534f82cbb>, then
#      Rscript coinr_weights_reference.R <lib> <out folder>  (writes coinr_opt.csv, coinr_pca.csv and coinr_opt_index.csv; the test
#      data files are these with their provenance header).
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(COINr, lib.loc = args[1]))
coin <- build_example_coin(quietly = TRUE)
run <- function(level, optype) {
  out <- suppressMessages(get_opt_weights(coin, itarg = if (optype == "balance") "equal" else NULL, dset = "Aggregated",
                         Level = level, optype = optype, out2 = "list"))
  w <- out$WeightsOpt
  w <- w[w$Level == level, ]
  data.frame(case = paste0(optype, "_L", level), code = w$iCode, weight = sprintf("%.15g", w$Weight),
             evaluations = out$OptResults$counts[["function"]], value = sprintf("%.15g", out$OptResults$value))
}
res <- rbind(run(3, "balance"), run(3, "infomax"), run(2, "balance"), run(2, "infomax"))
write.csv(res, file.path(args[2], "coinr_opt.csv"), row.names = FALSE, quote = FALSE)
# signed PCA weights of the indicators, by group, on the normalised data (COINr's get_PCA)
p <- suppressWarnings(get_PCA(coin, dset = "Normalised", Level = 1, by_groups = TRUE, out2 = "list"))
w <- p$Weights
w <- w[w$Level == 1, ]
write.csv(data.frame(code = w$iCode, weight = sprintf("%.15g", w$Weight)), file.path(args[2], "coinr_pca.csv"), row.names = FALSE, quote = FALSE)
# the index under the balance-optimised level-3 weights: scores and ranks of every unit
opt <- suppressMessages(get_opt_weights(coin, itarg = "equal", dset = "Aggregated", Level = 3, weights_to = "OptLev3",
                                        out2 = "coin"))
opt <- suppressMessages(Aggregate(opt, dset = "Normalised", w = "OptLev3"))
index <- get_results(opt, dset = "Aggregated", tab_type = "Aggs", nround = 15)
write.csv(data.frame(uCode = index$uCode, Index = sprintf("%.15g", index$Index), Rank = index$Rank),
          file.path(args[2], "coinr_opt_index.csv"), row.names = FALSE, quote = FALSE)
cat(R.version.string, as.character(packageVersion("COINr", lib.loc = args[1])), "\n")
