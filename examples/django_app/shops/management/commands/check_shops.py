"""``manage.py check_shops``: the Admin call for every installed shop (run it from cron)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from shops.services import backend


class Command(BaseCommand):
    help = "Call the Admin API for every installed shop, refreshing tokens as needed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--concurrency", type=int, default=8, help="Shops called at once.")

    def handle(self, *args: Any, concurrency: int, **options: Any) -> None:
        for shop, outcome in backend().check_all_shops(concurrency).items():
            self.stdout.write(f"{shop}: {outcome}")
