"""The app's own middleware: every response says which request method it served and that
the app is read-mostly; nothing in it changes per request, so WSGI and ASGI bodies match."""


class ReadOnlyHeaders:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response["X-Notes-Method"] = request.method
        response["Cache-Control"] = "no-store"
        return response
