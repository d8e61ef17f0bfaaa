"""Content-Length on every response, in sync and async mode alike.

Without it Granian sends unframed bodies to ab's HTTP/1.0 keep-alive requests and ab
miscounts them (docs/design.md, ab framing and Content-Length). Django's CommonMiddleware would add it but is
sync-only, costing ASGI a thread hop per request; this one runs natively in both modes.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction


def _with_length(response):
    if not response.streaming and not response.has_header("Content-Length"):
        response["Content-Length"] = str(len(response.content))
    return response


class ContentLengthMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        return _with_length(self.get_response(request))

    async def _acall(self, request):
        return _with_length(await self.get_response(request))
