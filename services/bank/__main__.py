from services.bank.app import build_app
from services.kit.app import serve

serve(build_app, "bank")
