import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "open137.settings")
application = get_wsgi_application()

# What is loaded by now (Django, the apps, their modules and models) lives as long as the process.
# Frozen, the collector stops walking it on every full collection, which otherwise cost each request
# (a citizen's report allocates enough to set collections off) a few per cent of its time.
gc.collect()  # what start-up left as garbage is not kept for the life of the process
gc.freeze()
