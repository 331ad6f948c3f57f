from services.kit.startup import quick_start

with quick_start():
    from services.kit.app import serve
    from services.pay.app import build_app

serve(build_app, "pay")
