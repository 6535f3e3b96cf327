import { router } from "../../trpc";

export const chatsRouter = router({});
