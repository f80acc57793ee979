FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    INVTRACK_DATA_DIR=/data
WORKDIR /app
# constraints.txt pins every runtime dependency to the versions the tests ran with.
COPY pyproject.toml README.md constraints.txt ./
COPY domain ./domain
COPY adapters ./adapters
COPY projections ./projections
COPY api ./api
RUN pip install --no-cache-dir -c constraints.txt . && useradd --system --home /data invtrack \
    && mkdir -p /data && chown invtrack /data
USER invtrack
EXPOSE 8000
# /ready: the database answers and the projections are current.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=2)"
CMD ["invtrack", "serve", "--host", "0.0.0.0", "--port", "8000"]
