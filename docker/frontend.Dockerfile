# The dashboard, built with npm and served by nginx; /api is proxied to the api service.
FROM node:20 AS build
WORKDIR /src
COPY frontend/ ./
RUN npm ci && npm run build

FROM nginx:1.27
COPY --from=build /src/dist /usr/share/nginx/html
COPY docker/nginx.conf /etc/nginx/conf.d/default.conf
