"""Monitoring layer: KPIs over the request log, replay evaluation, traffic simulator, dashboard.

Monitoring only reads: the request log (through `movierec.store`), the production bundle's JSON
files and the held-out test split. It never imports training or serving code.
"""
