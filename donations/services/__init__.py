"""Every state change of the donations app, one module per area.

The house style keeps writes in `services.py`; with online payments, receipts, offline cash
and rates this app has four distinct areas, so `services` is a package of one module each.
Import from the module: `from donations.services.rates import rates_import_ecb`.
"""
