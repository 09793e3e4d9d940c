# The full-stack image: web (gunicorn), worker and beat all run from it.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DEBUG=true python manage.py collectstatic --noinput -v0
EXPOSE 8000
CMD ["gunicorn", "vma.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
