"""The OpenAPI schema as strict as the server about networks: every request body's ``network``
is an enum of the networks configured (read when the schema is generated, so a network staff
add appears in the next schema the App fetches)."""

from __future__ import annotations


def enumerate_networks(result, generator, request, public):
    """drf-spectacular postprocessing hook: ``enum`` on each request component's ``network``."""
    from chains.models import Network

    try:
        codes = sorted(Network.objects.values_list("code", flat=True))
    except Exception:  # noqa: BLE001 - no database (e.g. `spectacular --file` offline): left a string
        return result
    if not codes:
        return result
    for name, component in result.get("components", {}).get("schemas", {}).items():
        network = component.get("properties", {}).get("network") if name.endswith("Request") else None
        if isinstance(network, dict) and network.get("type") == "string":
            network["enum"] = codes
    return result
