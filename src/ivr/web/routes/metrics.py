"""``/metrics``: the service's metrics in the Prometheus text format, for a scraper with the
bearer token (``IVR_METRICS_TOKEN``) or on a loopback address (docs/metrics.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from ivr.web.metrics import CONTENT_TYPE
from ivr.web.routes.common import ConsoleRoute, web_of

router = APIRouter(route_class=ConsoleRoute)

REFUSED = {
    401: "Jeton d'accès aux métriques requis (Authorization: Bearer …).",
    403: "Accès aux métriques refusé.",
}


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    service = web_of(request).deps.metrics
    if service is None:
        return PlainTextResponse("Métriques non configurées.", status_code=404)
    host = request.client.host if request.client is not None else None
    status = service.authorized(host, request.headers.get("authorization"))
    if status != 200:
        headers = {"WWW-Authenticate": 'Bearer realm="metrics"'} if status == 401 else None
        return PlainTextResponse(REFUSED[status], status_code=status, headers=headers)
    await service.refresh()
    return Response(
        service.render(), media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"}
    )
