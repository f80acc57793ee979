"""ServiceMobility's Export API: InventoryUsage rows pulled page by page, for
installations without the webhook and to recover or backfill what a receiver
missed. Rows are translated by `adapters.servicemobility`, the same rules the
webhook uses, so a row counts once whichever way it came."""
