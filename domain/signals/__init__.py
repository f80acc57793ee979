"""Stock signals as pure folds: par levels, on-hand quantities, low stock and
its crossings, restock pick lists, count variance, transfers and parts
readiness. No I/O and no clock: the time a status depends on is passed in.

- `products`: product identity for both vendors, and the (resource, product) key.
- `recommendations`: reading a ServiceMobility StockLevelRecommendation (new
  events and documents stored by earlier builds alike).
- `par_levels`: the par levels an event sets; checks of levels set by hand.
- `stock`: on-hand quantities from item changes (`Step`, `Change`, `StockRow`).
- `low_stock`: the fold of stock rows per batch, with the belowMin / restored crossings.
- `restock`: the low-stock list and a resource's pick list.
- `variance`: count variance and shrinkage over a period.
- `transfers`: RefModule 1003 halves paired by code.
- `readiness`: what is known of OFS activities, and their parts readiness.
"""
