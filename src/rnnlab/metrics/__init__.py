"""Scores, one module per kind of problem: `classification` (accuracy, macro-F1, confusion) and
`forecast` (MAE, RMSE, MAPE, sMAPE, MASE, per horizon)."""
