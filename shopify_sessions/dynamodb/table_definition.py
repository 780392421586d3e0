"""The sessions table as infrastructure code: AWS CLI JSON, CloudFormation, Terraform.

Derived from the model's own schema (the one ``create_table()`` sends), so the three forms and
the library never disagree: hash key ``id``, a KEYS_ONLY global index on ``shop``, on-demand
billing unless capacity is given, and optionally TTL on the ``ttl`` attribute.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .lifecycle import create_table_request
from .session_model import SessionModel
from .ttl import TTL_ATTRIBUTE

__all__ = ["FORMATS", "cloudformation", "create_table_input", "definition", "terraform"]

FORMATS = ("json", "cloudformation", "terraform")


def create_table_input(
    model: type[SessionModel], provisioned: tuple[int, int] | None = None
) -> dict[str, Any]:
    """The CreateTable request: ``aws dynamodb create-table --cli-input-json file://...``."""
    return create_table_request(model.Meta.table_name, model._get_schema(), provisioned)


def cloudformation(
    model: type[SessionModel], provisioned: tuple[int, int] | None = None, *, ttl: bool = False
) -> str:
    """An ``AWS::DynamoDB::Table`` resource in a CloudFormation template (YAML)."""
    request = create_table_input(model, provisioned)
    properties: dict[str, Any] = {k: v for k, v in request.items() if k != "TableName"}
    properties = {"TableName": request["TableName"], **properties}
    if ttl:
        properties["TimeToLiveSpecification"] = {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Shopify sessions table (shopify-sessions / the Node DynamoDB adapter)",
        "Resources": {
            "ShopifySessionsTable": {"Type": "AWS::DynamoDB::Table", "Properties": properties}
        },
    }
    return _yaml(template)


def _yaml(value: Any, indent: int = 0) -> str:
    """Block YAML of dicts, lists and scalars (JSON scalars are valid YAML)."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                lines.append(f"{pad}{key}:")
                lines.append(_yaml(item, indent + 1))
            else:
                lines.append(f"{pad}{key}: {json.dumps(item)}")
    else:
        for item in value:
            nested = _yaml(item, indent + 1).lstrip()
            lines.append(
                f"{pad}- {nested}"
                if isinstance(item, (dict, list))
                else f"{pad}- {json.dumps(item)}"
            )
    return "\n".join(lines)


def terraform(
    model: type[SessionModel], provisioned: tuple[int, int] | None = None, *, ttl: bool = False
) -> str:
    """An ``aws_dynamodb_table`` resource (Terraform, AWS provider)."""
    request = create_table_input(model, provisioned)
    name = re.sub(r"[^A-Za-z0-9_]", "_", request["TableName"])
    lines = [
        f'resource "aws_dynamodb_table" "{name}" {{',
        f"  name         = {json.dumps(request['TableName'])}",
        f'  billing_mode = "{request["BillingMode"]}"',
        f'  hash_key     = "{request["KeySchema"][0]["AttributeName"]}"',
    ]
    if provisioned is not None:
        lines += [f"  read_capacity  = {provisioned[0]}", f"  write_capacity = {provisioned[1]}"]
    for attribute in request["AttributeDefinitions"]:
        lines += [
            "",
            "  attribute {",
            f'    name = "{attribute["AttributeName"]}"',
            f'    type = "{attribute["AttributeType"]}"',
            "  }",
        ]
    for index in request["GlobalSecondaryIndexes"]:
        lines += [
            "",
            "  global_secondary_index {",
            f"    name            = {json.dumps(index['IndexName'])}",
            f'    hash_key        = "{index["KeySchema"][0]["AttributeName"]}"',
            f'    projection_type = "{index["Projection"]["ProjectionType"]}"',
        ]
        if provisioned is not None:
            lines += [
                f"    read_capacity   = {provisioned[0]}",
                f"    write_capacity  = {provisioned[1]}",
            ]
        lines.append("  }")
    if ttl:
        lines += [
            "",
            "  ttl {",
            f'    attribute_name = "{TTL_ATTRIBUTE}"',
            "    enabled        = true",
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines)


def definition(
    form: str, model: type[SessionModel], provisioned: tuple[int, int] | None, *, ttl: bool
) -> str:
    """The table in ``form`` (one of :data:`FORMATS`)."""
    if form == "json":
        return json.dumps(create_table_input(model, provisioned), indent=2)
    if form == "cloudformation":
        return cloudformation(model, provisioned, ttl=ttl)
    if form == "terraform":
        return terraform(model, provisioned, ttl=ttl)
    raise ValueError(f"unknown form {form!r}: use one of {', '.join(FORMATS)}")
