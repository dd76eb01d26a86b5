"""Every state change of the donations app, one module per sub-domain.

The same sub-domain names are used in `selectors/`, `views/` and `forms/` (see
docs/architecture.md): online (starting a gift), payments (recording what Stripe reports),
cash, receipts, rates, reconcile, reporting and demo; history holds the one helper that
writes a gift's history rows. Import from the module:
`from donations.services.rates import rates_import_ecb`.
"""
