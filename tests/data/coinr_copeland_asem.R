# Provenance of tests/data/coinr_copeland_asem.csv and coinr_copeland_asem_normalised.csv: COINr's own
# Copeland aggregation of its ASEM example coin.
# Run (2026-12-02) with Debian 12's r-base-core 4.2.2 and COINr 1.1.14 installed from its GitHub source
# (github.com/bluefoxr/COINr, commit b968203), from the project root:
#   R CMD INSTALL -l <lib> <COINr source>;  R_LIBS=<lib> Rscript tests/data/coinr_copeland_asem.R
library(COINr)
coin <- build_example_coin(up_to = "Normalise", quietly = TRUE)
# Aggregate() passes the data as x =, a_copeland() names its argument X: a one-line adapter, nothing else
copeland_x <- function(x, w = NULL) a_copeland(X = x, w = w)
coin <- Aggregate(coin, dset = "Normalised", f_ag = "copeland_x", by_df = TRUE)
aggregated <- get_dset(coin, "Aggregated", also_get = "uCode")
normalised <- get_dset(coin, "Normalised", also_get = "uCode")
exact <- function(frame) {   # every digit of a double (write.csv keeps 15)
  for (col in names(frame)[-1]) frame[[col]] <- sprintf("%.17g", frame[[col]])
  frame
}
codes <- c("uCode", "ConEcFin", "Environ", "Instit", "P2P", "Physical", "Political", "Social", "SusEcFin",
           "Conn", "Sust", "Index")
header <- c("# COINr 1.1.14 a_copeland on its ASEM example: Aggregate(build_example_coin(up_to = 'Normalise'),",
            "# f_ag = a_copeland, by_df = TRUE) at every level, equal weights; made by coinr_copeland_asem.R")
writeLines(header, "tests/data/coinr_copeland_asem.csv")
suppressWarnings(write.table(aggregated[codes], "tests/data/coinr_copeland_asem.csv", sep = ",",
                             row.names = FALSE, append = TRUE))
writeLines("# COINr 1.1.14 ASEM example coin, data set Normalised (the input of the Copeland aggregation)",
           "tests/data/coinr_copeland_asem_normalised.csv")
suppressWarnings(write.table(exact(normalised), "tests/data/coinr_copeland_asem_normalised.csv", sep = ",",
                             row.names = FALSE, append = TRUE, quote = FALSE))
