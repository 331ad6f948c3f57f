from services.kit.startup import quick_start

with quick_start():
    from services.card.app import build_app
    from services.kit.app import serve

serve(build_app, "card")
