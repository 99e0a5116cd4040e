# One image holds the three services; docker-compose.yml picks which one a container runs.
FROM node:20-bookworm-slim
WORKDIR /app
RUN npm install -g pnpm@12.4.2
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml turbo.json tsconfig.base.json ./
COPY scripts ./scripts
COPY packages ./packages
COPY apps ./apps
RUN pnpm install --frozen-lockfile && pnpm build
ENV NODE_ENV=production
USER node
