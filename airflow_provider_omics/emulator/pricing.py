"""The AWS Price List API's ``GetProducts`` for ``AmazonOmics``: moto has no Pricing API, so the emulator serves it.

The price list has the shape of AWS's (``product.attributes.resourceType``: an ``omics.*`` instance type or
``Run Storage``, a USD ``pricePerUnit`` under ``terms.OnDemand``), for the instance types the emulator's
tasks run on, in the emulator's region. The figures are the emulator's own, roughly the size of AWS's,
not a copy of them: tests check that an estimate is computed from the list, never what AWS charges.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from werkzeug.wrappers import Request, Response

SERVICE_CODE = "AmazonOmics"
OPERATIONS = ("GetProducts", "DescribeServices")
FAMILIES = {"c": 2, "m": 4, "r": 8}  # GiB a vCPU
SIZES = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "12xlarge": 48, "16xlarge": 64}
USD_PER_VCPU_HOUR = {"c": 0.0574, "m": 0.0672, "r": 0.0880}
RUN_STORAGE_USD_PER_GIB_HOUR = 0.000192
DYNAMIC_RUN_STORAGE_USD_PER_GIB_HOUR = 0.000548


def is_pricing(request: Request) -> bool:
    return request.headers.get("X-Amz-Target", "").startswith("AWSPriceListService.")


def price_list(region: str) -> list[dict[str, Any]]:
    """Every product of the emulator's AmazonOmics price list, as ``GetProducts`` returns each (decoded)."""
    products = [
        _product(
            region,
            f"omics.{family}.{size}",
            {"vcpu": str(vcpus), "memory": f"{vcpus * per_vcpu} GiB", "gpu": "0"},
            "Hrs",
            vcpus * USD_PER_VCPU_HOUR[family],
        )
        for family, per_vcpu in FAMILIES.items()
        for size, vcpus in SIZES.items()
    ]
    products.append(_product(region, "Run Storage", {}, "GB-Hours", RUN_STORAGE_USD_PER_GIB_HOUR))
    products.append(_product(region, "Dynamic Run Storage", {}, "GB-Hours", DYNAMIC_RUN_STORAGE_USD_PER_GIB_HOUR))
    return products


def attribute_names(region: str) -> list[str]:
    """The attributes the price list's products have: what ``DescribeServices`` names."""
    return sorted({name for item in price_list(region) for name in item["product"]["attributes"]})


def _product(region: str, resource_type: str, attributes: dict[str, str], unit: str, usd: float) -> dict[str, Any]:
    sku = f"EMU{zlib.crc32(f'{region}/{resource_type}'.encode()):010d}"
    rate = f"{sku}.JRTCKXETXF.6YS6EN2CT7"
    return {
        "product": {
            "productFamily": "Compute",
            "attributes": {
                "servicecode": SERVICE_CODE,
                "regionCode": region,
                "resourceType": resource_type,
                **attributes,
            },
            "sku": sku,
        },
        "serviceCode": SERVICE_CODE,
        "terms": {
            "OnDemand": {
                f"{sku}.JRTCKXETXF": {
                    "priceDimensions": {
                        rate: {
                            "unit": unit,
                            "description": f"${usd:.10f} per {unit} for {resource_type}",
                            "rateCode": rate,
                            "pricePerUnit": {"USD": f"{usd:.10f}"},
                        }
                    },
                    "sku": sku,
                    "offerTermCode": "JRTCKXETXF",
                }
            }
        },
    }


def _matches(attributes: dict[str, str], rule: dict[str, Any]) -> bool:
    value = attributes.get(rule.get("Field", ""), "")
    wanted = str(rule.get("Value", ""))
    kind = rule.get("Type")
    if kind in ("TERM_MATCH", "EQUALS"):
        return value.lower() == wanted.lower()
    if kind == "CONTAINS":
        return wanted.lower() in value.lower()
    options = [option.strip().lower() for option in wanted.split(",")]
    return (value.lower() in options) == (kind == "ANY_OF")


def handle(request: Request, region: str) -> Response:
    """``GetProducts`` and ``DescribeServices`` (JSON 1.1); the other Price List operations answer as
    unsupported here."""
    operation = request.headers["X-Amz-Target"].split(".", 1)[1]
    try:
        params = json.loads(request.get_data() or b"{}")
    except ValueError:
        return _error("SerializationException", "Request body is not valid JSON")
    if operation not in OPERATIONS:
        served = " and ".join(OPERATIONS)
        return _error("UnknownOperationException", f"The emulator serves only {served}, not {operation}")
    if operation == "DescribeServices":
        return _describe_services(params, region)
    if not params.get("ServiceCode"):
        return _error("InvalidParameterException", "ServiceCode is required")
    for rule in params.get("Filters") or []:
        if rule.get("Type") not in ("TERM_MATCH", "EQUALS", "CONTAINS", "ANY_OF", "NONE_OF"):
            return _error("InvalidParameterException", f"Invalid filter type: {rule.get('Type')}")
    size = int(params.get("MaxResults") or 100)
    if not 1 <= size <= 100:
        return _error("InvalidParameterException", "MaxResults must be between 1 and 100")
    items = price_list(region) if params["ServiceCode"] == SERVICE_CODE else []
    items = [
        item
        for item in items
        if all(_matches(item["product"]["attributes"], rule) for rule in params.get("Filters") or [])
    ]
    start = int(params.get("NextToken") or 0)
    page = items[start : start + size]
    body: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": [json.dumps(item) for item in page]}
    if start + size < len(items):
        body["NextToken"] = str(start + size)
    return Response(json.dumps(body), 200, content_type="application/x-amz-json-1.1")


def _describe_services(params: dict[str, Any], region: str) -> Response:
    """The services the price list covers: only AmazonOmics here (another code answers with none, as AWS's)."""
    code = params.get("ServiceCode")
    services = [{"ServiceCode": SERVICE_CODE, "AttributeNames": attribute_names(region)}]
    body = {"FormatVersion": "aws_v1", "Services": [s for s in services if not code or s["ServiceCode"] == code]}
    return Response(json.dumps(body), 200, content_type="application/x-amz-json-1.1")


def _error(code: str, message: str) -> Response:
    return Response(json.dumps({"__type": code, "Message": message}), 400, content_type="application/x-amz-json-1.1")
