"""The donations pages, one module per sub-domain: online, payments, cash, reporting."""
