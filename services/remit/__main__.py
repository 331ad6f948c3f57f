from services.kit.app import serve
from services.remit.app import build_app

serve(build_app, "remit")
