"""The simple methods every model is printed beside, one module per kind of problem:
`classification` (majority class, 1-NN Euclidean and DTW) and `forecast` (naive, seasonal naive, drift)."""
