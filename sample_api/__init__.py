"""The bundled sample HTTP API: serves the example specs' data on 127.0.0.1 (demo) and
is the fault-injecting HTTP side of the runtime and CLI tests. See ``server.py``."""

from sample_api.server import Credential, Fault, Request, SampleAPI

__all__ = ["SampleAPI", "Request", "Fault", "Credential"]
