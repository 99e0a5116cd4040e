# One image holds every service under apps/; docker-compose.yml picks which one a container runs.
# The build stage holds the whole workspace and its tools; the final stage only each app's build with
# its production dependencies (`pnpm deploy --prod`), on a Node.js image without npm or yarn. Target:
# under 200 MB.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml turbo.json tsconfig.base.json ./
RUN npm install -g "pnpm@$(node -p "require('./package.json').packageManager.split('@')[1]")"
COPY scripts ./scripts
COPY packages ./packages
COPY apps ./apps
RUN pnpm install --frozen-lockfile && pnpm build
# Every app under apps/, each with its own node_modules; files the apps share are hard links to one
# copy in the store, which the final stage's single COPY keeps.
RUN for app in apps/*/; do pnpm --filter "./$app" --prod deploy "/prod/$app"; done

FROM node:20-alpine AS runtime
# The services need node alone; package managers in a running image only widen what an intruder can do.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
ENV NODE_ENV=production
# SERVICE_NODE_OPTIONS in packages/service-kit/src/process.ts: larger semi-spaces, less of each event's CPU in collection.
ENV NODE_OPTIONS=--max-semi-space-size=32
WORKDIR /app
# Owned by root and read-only to the services, which run as the unprivileged `node` user.
COPY --from=build /prod/apps ./apps
USER node
