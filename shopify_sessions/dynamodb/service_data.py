"""botocore's data loader, told it serves DynamoDB only: a cold start without the service scan.

To make a client, botocore checks that "dynamodb" is a known service by listing every service
directory it ships (434, with a ``listdir`` of each), once for the service model and once for
the endpoint rules: 20 ms of a Lambda's cold start on a warm file cache, more on a cold one.
The sessions our storages make clients from (their own, or PynamoDB's) get a loader that looks
in the "dynamodb" directory of each search path only. Everything else about loading (search
paths, ``AWS_DATA_PATH``, versions, caching) is botocore's own.
"""

from __future__ import annotations

import os
from typing import Any

from botocore.loaders import Loader

__all__ = ["SERVICE", "DynamoDBDataLoader", "use_dynamodb_loader"]

SERVICE = "dynamodb"


class DynamoDBDataLoader(Loader):
    """A botocore ``Loader`` whose list of available services holds DynamoDB at most."""

    def list_available_services(self, type_name: str) -> list[str]:
        for path in self.search_paths:
            directory = os.path.join(path, SERVICE)
            if not os.path.isdir(directory):
                continue
            for version in os.listdir(directory):
                if self.file_loader.exists(os.path.join(directory, version, type_name)):
                    return [SERVICE]
        return []


def use_dynamodb_loader(session: Any) -> None:
    """Give a botocore (or aiobotocore) session, before it makes its first client, the loader
    botocore would (``create_loader`` with the session's ``data_path``), for DynamoDB only."""
    data_path = session.get_config_variable("data_path")
    extra = None
    if data_path is not None:
        extra = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)]
    session.register_component("data_loader", DynamoDBDataLoader(extra_search_paths=extra))
