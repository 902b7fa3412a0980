"""The OpenAPI schema as strict as the server about networks and currencies: every request body's
``network`` is an enum of the networks configured, and every currency field of
``chains.api_fields`` an enum of the currencies it takes (read when the schema is generated, so a
network or currency staff add appears in the next schema the App fetches)."""

from __future__ import annotations

from chains.api_fields import ANY, CODES_KEY, WITH_A_COIN


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


def _currency_codes() -> dict[str, list[str]] | None:
    from chains.models import Coin, Currency

    try:
        return {ANY: sorted(Currency.objects.values_list("code", flat=True)),
                WITH_A_COIN: sorted(set(Coin.objects.values_list("currency__code", flat=True)))}
    except Exception:  # noqa: BLE001 - no database (e.g. `spectacular --file` offline): left strings
        return None


def enumerate_currencies(result, generator, request, public):
    """drf-spectacular postprocessing hook: ``enum`` on each property marked by a currency field
    of ``chains.api_fields`` (in components and in inline parameter schemas); the marker goes."""
    marked = [prop for component in result.get("components", {}).get("schemas", {}).values()
              for prop in component.get("properties", {}).values() if isinstance(prop, dict) and CODES_KEY in prop]
    marked += [parameter["schema"] for path in result.get("paths", {}).values() for operation in path.values()
               if isinstance(operation, dict) for parameter in operation.get("parameters", [])
               if CODES_KEY in parameter.get("schema", {})]
    codes = _currency_codes() if marked else None
    for prop in marked:
        which = prop.pop(CODES_KEY)
        if codes and codes[which]:
            prop["enum"] = codes[which]
    return result
