# Dashboard: the SDK image has no Node, so the front-end bundle is built in its own stage.
FROM node:20-bookworm-slim AS client
WORKDIR /src/src/Api/ClientApp
COPY src/Api/ClientApp/package.json src/Api/ClientApp/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY src/Api/ClientApp/ ./
RUN npm run build

# Build: SDK image restores and publishes the API (the engine and storage come along as project references).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props Service.sln ./
COPY src/Engine/Engine.csproj src/Engine/
COPY src/Contracts/Contracts.csproj src/Contracts/
COPY src/Storage/Storage.csproj src/Storage/
COPY src/Storage.Postgres/Storage.Postgres.csproj src/Storage.Postgres/
COPY src/Api/Api.csproj src/Api/
COPY src/Api/ClientApp/ClientApp.targets src/Api/ClientApp/
RUN dotnet restore src/Api/Api.csproj
COPY src/ src/
COPY --from=client /src/src/Api/wwwroot/dist src/Api/wwwroot/dist
RUN dotnet publish src/Api/Api.csproj -c Release -o /app --no-restore -p:SkipClientAppBuild=true

# Run: ASP.NET runtime only, as the image's non-root user, data on a volume.
FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
# Urls (not ASPNETCORE_URLS): appsettings.json sets Urls for local runs, and only a plain environment
# variable is read after it and overrides it.
ENV Urls=http://+:8080 \
    Storage__DataDirectory=/data
RUN mkdir -p /data && chown app:app /data
VOLUME /data
USER app
EXPOSE 8080
# The aspnet image has no curl; the health check calls the service's own /health through bash's /dev/tcp.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080 && printf "GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3 && grep -q "200 OK" <&3' || exit 1
ENTRYPOINT ["dotnet", "Api.dll"]
