from services.kit.app import serve
from services.pay.app import build_app

serve(build_app, "pay")
