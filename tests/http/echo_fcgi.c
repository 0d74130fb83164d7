/* echo_fcgi.c - a FastCGI app for the forward-auth test: it answers with the
 * identity parameters nginx gave it (HTTP_X_USER_ID, ...), so the test sees
 * what a protected FastCGI app would trust. Started by spawn-fcgi with the
 * listening socket on fd 0. */
#include <stdio.h>

#include <fcgiapp.h>

static void field(FCGX_Request *req, const char *json_name, const char *param, int last)
{
    const char *v = FCGX_GetParam(param, req->envp);

    FCGX_FPrintF(req->out, "\"%s\":", json_name);
    if (v == NULL) {
        FCGX_PutS("null", req->out);
    } else {
        FCGX_PutS("\"", req->out);
        for (; *v != '\0'; v++) /* the test's values are plain ASCII */
            if (*v != '"' && *v != '\\' && (unsigned char)*v >= 0x20)
                FCGX_PutChar(*v, req->out);
        FCGX_PutS("\"", req->out);
    }
    FCGX_PutS(last ? "}" : ",", req->out);
}

int main(void)
{
    FCGX_Request req;

    if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0)
        return 1;
    while (FCGX_Accept_r(&req) >= 0) {
        FCGX_PutS("Status: 200 OK\r\nContent-Type: application/json\r\n\r\n{", req.out);
        field(&req, "user_id", "HTTP_X_USER_ID", 0);
        field(&req, "user_email", "HTTP_X_USER_EMAIL", 0);
        field(&req, "user_role", "HTTP_X_USER_ROLE", 0);
        field(&req, "session_id", "HTTP_X_SESSION_ID", 1);
        FCGX_Finish_r(&req);
    }
    return 0;
}
