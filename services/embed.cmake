# cmake -DIN=file -DOUT=file.c -DNAME=symbol -P embed.cmake: writes `const char NAME[] = "...";`
# holding IN's text, so a service's schema.sql stays a plain SQL file in the tree.
file(READ ${IN} text HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${text}")
file(WRITE ${OUT} "/* generated from ${IN} by services/embed.cmake */\n"
                  "extern const char ${NAME}[];\nconst char ${NAME}[] = {${bytes} 0x00};\n")
