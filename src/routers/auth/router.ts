import { authedProcedure, publicProcedure, router } from "../../trpc";
import { ZMessageResponse, ZNoInput } from "../../lib/zod";
import { ZAuthUserResponse, ZLoginRequest, ZRegisterRequest, ZTokenResponse } from "./schemas";
import { getAuthUser, login, registerUser } from "./service";

export const authRouter = router({
  register: publicProcedure
    .meta({ openapi: { method: "POST", path: "/auth/register", tags: ["auth"], summary: "Create an account", protect: false }, status: 201 })
    .input(ZRegisterRequest)
    .output(ZMessageResponse)
    .mutation(async ({ ctx, input }) => {
      await registerUser(ctx.app, input);
      return { message: "Registered. Check your email to verify your account." };
    }),
  login: publicProcedure
    .meta({ openapi: { method: "POST", path: "/auth/login", tags: ["auth"], summary: "Log in", protect: false } })
    .input(ZLoginRequest)
    .output(ZTokenResponse)
    .mutation(({ ctx, input }) => login(ctx.app, input, { userAgent: ctx.userAgent, ip: ctx.ip })),
  me: authedProcedure
    .meta({ openapi: { method: "GET", path: "/auth/me", tags: ["auth"], summary: "The caller's account" } })
    .input(ZNoInput)
    .output(ZAuthUserResponse)
    .query(({ ctx }) => getAuthUser(ctx.app, ctx.user.id)),
});
