from services.kit.startup import quick_start

with quick_start():
    from services.kit.app import serve
    from services.remit.app import build_app

serve(build_app, "remit")
