# zkpot API and worker image. GPU hosts build with
#   --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128
# to get the CUDA build of the same torch version the lock pins.
FROM python:3.11-slim
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock pyproject.toml ./
RUN sed -i 's/^torch==.*/torch==2.13.0/; /^-e \.$/d' requirements.lock \
 && pip install --no-cache-dir --extra-index-url "$TORCH_INDEX" -r requirements.lock
COPY tools/package.json tools/package-lock.json tools/solc-shim.js tools/
RUN npm ci --prefix tools --no-audit --no-fund
COPY . .
RUN pip install --no-cache-dir --no-deps -e . \
 && ZKPOT_SYSTEM_PYTHON=1 tools/bootstrap.sh
ENV PATH=/app/.tools/bin:$PATH HOME=/app/.zkpot/home ZKPOT_KERNEL_DIR=/app/.zkpot/kernels
