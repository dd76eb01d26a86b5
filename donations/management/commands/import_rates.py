from django.core.management.base import BaseCommand, CommandError

from donations.services.rates import RatesFileError, rates_import_ecb, read_rates_source


class Command(BaseCommand):
    help = "Load ECB reference rates (eurofxref XML, daily or history) from a file or URL."

    def add_arguments(self, parser):
        parser.add_argument("file_or_url")

    def handle(self, *args, file_or_url: str, **options):
        try:
            data = read_rates_source(file_or_url)
            created, updated = rates_import_ecb(data=data)
        except (OSError, RatesFileError) as error:
            raise CommandError(f"Could not import rates from {file_or_url}: {error}") from error
        self.stdout.write(f"Imported ECB rates: {created} new, {updated} updated.")
